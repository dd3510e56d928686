/**
 * The route table: one line per route, each page one file under pages/<area>/ (lazy, so a page's
 * code loads when it is first opened). console-b and console-c add their lines here.
 */
import { lazy } from 'react';
import type { RouteObject } from 'react-router';

const page = (load: () => Promise<{ default: React.ComponentType }>) => {
  const Page = lazy(load);
  return <Page />;
};

/** Pages outside the signed-in frame. */
export const PUBLIC_ROUTES: RouteObject[] = [
  { path: '/sign-in', element: page(() => import('./pages/auth/SignIn')) },
  { path: '/sign-up', element: page(() => import('./pages/auth/SignUp')) },
];

/** Pages inside the Layout, for signed-in users. */
export const APP_ROUTES: RouteObject[] = [
  { path: '/switch-tenant', element: page(() => import('./pages/auth/SwitchTenant')) },
  { path: '/tasks', element: page(() => import('./pages/tasks/Board')) },
  { path: '/flows', element: page(() => import('./pages/flows/FlowsList')) },
  { path: '/flows/new', element: page(() => import('./pages/flows/FlowEditor')) },
  { path: '/flows/:flowId', element: page(() => import('./pages/flows/FlowEditor')) },
  { path: '/runs', element: page(() => import('./pages/runs/RunsList')) },
  { path: '/runs/:runId', element: page(() => import('./pages/runs/RunView')) },
  { path: '/assistant', element: page(() => import('./pages/assistant/Assistant')) },
  { path: '/assistant/:chatId', element: page(() => import('./pages/assistant/Assistant')) },
  { path: '*', element: page(() => import('./pages/NotFound')) },
];

/** The main navigation, in order. */
export const NAV: Array<{ to: string; label: string }> = [
  { to: '/tasks', label: 'Tasks' },
  { to: '/assistant', label: 'Assistant' },
  { to: '/flows', label: 'Flows' },
  { to: '/runs', label: 'Runs' },
];
