/** The console's entry: session, router, the route table (routes.tsx). */
import { StrictMode, Suspense } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter, Navigate, type RouteObject, useRoutes } from 'react-router';
import { client } from './api/client';
import { RequireSession, SessionProvider } from './auth';
import { APP_ROUTES, PUBLIC_ROUTES } from './routes';
import { Layout, Loading } from './ui';
import './ui/styles.css';

// The board is where most sessions start: fetch its code and its first snapshot page while the
// session is being restored (lazy() and the board's TaskSync then find them under way) instead of after.
if (location.pathname === '/' || location.pathname.startsWith('/tasks')) {
  const board = import('./pages/tasks/sync');
  void import('./pages/tasks/Board');
  const off = client.onRestored(() => {
    off();
    void board.then((m) => m.prefetchSnapshot(client));
  });
}

// Declarative routing (<BrowserRouter> + useRoutes): the console uses no loaders, actions or fetchers,
// and leaving out the data router (createBrowserRouter) takes about 60 KiB of react-router (17 KiB gzip)
// out of the first load (docs/console.md, "Performance").
const ROUTES: RouteObject[] = [
  ...PUBLIC_ROUTES,
  {
    element: (
      <RequireSession>
        <Layout />
      </RequireSession>
    ),
    children: [{ index: true, element: <Navigate to="/tasks" replace /> }, ...APP_ROUTES],
  },
];

function App() {
  return useRoutes(ROUTES);
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider>
      <Suspense fallback={<Loading />}>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </Suspense>
    </SessionProvider>
  </StrictMode>,
);
