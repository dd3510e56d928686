import { Link, useNavigate, useSearchParams } from 'react-router';
import { useClient } from '../../auth/session';
import { Field, Form } from '../../ui';
import { ThemeToggle } from '../../ui/theme';
import { nextPath } from './SignIn';

export default function SignUp() {
  const client = useClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  return (
    <div className="auth-page">
      <ThemeToggle />
      <h1>Create your Edgecrew account</h1>
      <Form
        aria-label="Sign up"
        submitLabel="Create account"
        onSubmit={async (data) => {
          await client.signUp({
            name: String(data.get('name')),
            email: String(data.get('email')),
            password: String(data.get('password')),
            tenantName: String(data.get('tenantName')),
          });
          navigate(nextPath(params), { replace: true });
        }}
      >
        <Field label="Your name" name="name" autoComplete="name" required />
        <Field label="Email" name="email" type="email" autoComplete="username" required />
        <Field label="Password" name="password" type="password" autoComplete="new-password" required />
        <Field label="Workspace (tenant) name" name="tenantName" required />
      </Form>
      <p>
        Already have an account? <Link to="/sign-in">Sign in</Link>
      </p>
    </div>
  );
}
