/** The console's entry: session, router, the route table (routes.tsx). */
import { StrictMode, Suspense } from 'react';
import { createRoot } from 'react-dom/client';
import { createBrowserRouter, Navigate, RouterProvider } from 'react-router';
import { RequireSession, SessionProvider } from './auth';
import { APP_ROUTES, PUBLIC_ROUTES } from './routes';
import { Layout, Loading } from './ui';
import './ui/styles.css';

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
