/**
 * The signed-in session as React state: `useSession()`, `useRole()`, `can(action)`.
 * Permissions come from the API's own matrix (src/identity/roles.ts), so the console hides exactly
 * the controls the API would refuse (a viewer sees no write controls).
 */
import { createContext, type ReactNode, useContext, useEffect, useMemo, useState } from 'react';
import { type Permission, can as roleCan } from '../../../src/identity/roles';
import { type Client, client as defaultClient, type Role, type Session } from '../api/client';

export type { Permission };

interface SessionState {
  client: Client;
  session: Session | null;
  /** True until the stored refresh token has been tried. */
  restoring: boolean;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children, client = defaultClient }: { children: ReactNode; client?: Client }) {
  const [session, setSession] = useState<Session | null>(client.session);
  const [restoring, setRestoring] = useState(client.session === null);
  useEffect(() => {
    const off = client.subscribe(setSession);
    if (client.session === null) {
      void client.restore().finally(() => setRestoring(false));
    }
    return off;
  }, [client]);
  const value = useMemo(() => ({ client, session, restoring }), [client, session, restoring]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

function useSessionState(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside <SessionProvider>');
  return s;
}

/** The API client and the current session (null when signed out). */
export function useSession() {
  return useSessionState();
}

/** The API client (for pages). */
export function useClient(): Client {
  return useSessionState().client;
}

/** The caller's role in the current tenant, and `can(permission)` from the API's matrix. */
export function useRole(): { role: Role | null; can: (permission: Permission) => boolean } {
  const { session } = useSessionState();
  const role = session?.role ?? null;
  return useMemo(() => ({ role, can: (p: Permission) => (role ? roleCan(role, p) : false) }), [role]);
}
