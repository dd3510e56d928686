/**
 * The route table: one line per route, each page one file under pages/<area>/ (lazy, so a page's
 * code loads when it is first opened). A new page adds one line here (and a NAV entry if it has one).
 */
import { lazy } from 'react';
import type { RouteObject } from 'react-router';
import type { Permission } from './auth';

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
  { path: '/tools', element: page(() => import('./pages/tools/ToolList')) },
  { path: '/tools/:toolId', element: page(() => import('./pages/tools/ToolDetail')) },
  { path: '/feedback', element: page(() => import('./pages/feedback/Feedback')) },
  { path: '/webhooks', element: page(() => import('./pages/webhooks/Webhooks')) },
  { path: '/webhooks/:webhookId', element: page(() => import('./pages/webhooks/WebhookDetail')) },
  { path: '/members', element: page(() => import('./pages/admin/Members')) },
  { path: '/api-keys', element: page(() => import('./pages/admin/ApiKeys')) },
  { path: '*', element: page(() => import('./pages/NotFound')) },
];

/** The main navigation, in order. An entry with `permission` shows only to roles that have it (src/identity/roles.ts). */
export const NAV: Array<{ to: string; label: string; permission?: Permission }> = [
  { to: '/tasks', label: 'Tasks' },
  { to: '/assistant', label: 'Assistant' },
  { to: '/flows', label: 'Flows' },
  { to: '/runs', label: 'Runs' },
  { to: '/tools', label: 'Tools' },
  { to: '/feedback', label: 'Feedback' },
  { to: '/webhooks', label: 'Webhooks', permission: 'webhooks:write' },
  { to: '/members', label: 'Members', permission: 'members:write' },
  { to: '/api-keys', label: 'API keys', permission: 'api_keys:write' },
];
