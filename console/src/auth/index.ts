export { RequireSession } from './RequireSession';
export { type Permission, SessionProvider, useClient, useRole, useSession } from './session';
