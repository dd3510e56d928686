/** The signed-in frame: skip link, nav (one entry per area in routes.tsx), tenant, theme toggle, sign out. */
import { Suspense } from 'react';
import { NavLink, Outlet, useNavigate } from 'react-router';
import { useRole, useSession } from '../auth/session';
import { NAV } from '../routes';
import { Loading } from './Loading';
import { ThemeToggle } from './theme';

export function Layout() {
  const { client, session } = useSession();
  const { can } = useRole();
  const navigate = useNavigate();
  return (
    <div className="layout">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Edgecrew</span>
        <nav aria-label="Main">
          <ul className="nav-list">
            {NAV.filter((n) => !n.permission || can(n.permission)).map((n) => (
              <li key={n.to}>
                <NavLink to={n.to}>{n.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="topbar-end">
          {session ? (
            <NavLink to="/switch-tenant" className="tenant" title="Switch tenant">
              {session.tenant.name} <span className="role">{session.role}</span>
            </NavLink>
          ) : null}
          <ThemeToggle />
          <button type="button" className="btn btn-link" onClick={() => void client.signOut().finally(() => navigate('/sign-in'))}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
