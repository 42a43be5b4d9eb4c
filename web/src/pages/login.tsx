// The login page: a name and a password; the daemon sets an HttpOnly session cookie and hands back the CSRF token.
import { useState } from 'preact/hooks';
import { login } from '../lib/session.js';
import { Button, ErrorBox, Field } from '../components/ui.js';
import { useAction } from '../lib/hooks.js';

/** The login form. */
export function LoginPage() {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const act = useAction();
  return (
    <main class="login">
      <form
        class="card login-card"
        onSubmit={(e) => {
          e.preventDefault();
          void act.run(() => login(name.trim(), password));
        }}
      >
        <h1>nimbo</h1>
        <p class="muted">Sign in to manage your servers.</p>
        <Field label="User name">{(id) => <input id={id} name="username" autocomplete="username" required value={name} onInput={(e) => setName(e.currentTarget.value)} />}</Field>
        <Field label="Password">{(id) => <input id={id} name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />}</Field>
        <ErrorBox error={act.error} />
        <Button kind="primary" type="submit" disabled={act.pending}>
          {act.pending ? 'Signing in…' : 'Sign in'}
        </Button>
      </form>
    </main>
  );
}
