/** Route guard: signed-out visitors go to /sign-in and come back to where they were going. */
import type { ReactNode } from 'react';
import { Navigate, useLocation } from 'react-router';
import { Loading } from '../ui/Loading';
import { useSession } from './session';

export function RequireSession({ children }: { children: ReactNode }) {
  const { session, restoring } = useSession();
  const location = useLocation();
  if (restoring) return <Loading label="Restoring your session" />;
  if (!session) return <Navigate to={`/sign-in?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return children;
}
