import { Link, useNavigate, useSearchParams } from 'react-router';
import { useClient } from '../../auth/session';
import { Field, Form } from '../../ui';
import { ThemeToggle } from '../../ui/theme';

/** Where to go after signing in: `?next=` when it is a path of this app, else the board. */
export function nextPath(params: URLSearchParams): string {
  const next = params.get('next');
  return next?.startsWith('/') && !next.startsWith('//') ? next : '/tasks';
}

export default function SignIn() {
  const client = useClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  return (
    <div className="auth-page">
      <ThemeToggle />
      <h1>Sign in to Edgecrew</h1>
      <Form
        aria-label="Sign in"
        submitLabel="Sign in"
        onSubmit={async (data) => {
          await client.signIn({ email: String(data.get('email')), password: String(data.get('password')) });
          navigate(nextPath(params), { replace: true });
        }}
      >
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <Field label="Password" name="password" type="password" autoComplete="current-password" required />
      </Form>
      <p>
        New here? <Link to={`/sign-up${params.size ? `?${params}` : ''}`}>Create an account</Link>
      </p>
    </div>
  );
}
