/** The console's entry: session, router, the route table (routes.tsx). */
import { StrictMode, Suspense } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
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

const router = createBrowserRouter([
  ...PUBLIC_ROUTES,
  {
    element: (
      <RequireSession>
        <Layout />
      </RequireSession>
    ),
    children: [{ index: true, element: <Navigate to="/tasks" replace /> }, ...APP_ROUTES],
  },
]);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SessionProvider>
      <Suspense fallback={<Loading />}>
        <RouterProvider router={router} />
      </Suspense>
    </SessionProvider>
  </StrictMode>,
);
