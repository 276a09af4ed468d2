/**
 * The app shell: sign-in gate, navigation with the inbox, the live
 * connection banner, the theme toggle, keyboard shortcuts (`/` search,
 * `i` inbox, `?` help), and the page for the current URL.
 */
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { getToken, onSessionChange, signOut } from './session';
import { match, navigate, useLocation } from './router';
import { LiveProvider, useLive } from './live';
import { Link } from './components/link';
import { useInbox } from './inbox';
import { applyTheme, nextTheme, storedTheme, type Theme } from './theme';
import { can, useMe } from './me';
import { SignIn } from './pages/sign-in';
import { FleetPage } from './pages/fleet';
import { AgentPage } from './pages/agent';
import { RolloutsPage, RolloutPage } from './pages/rollouts';
import { DeploymentsPage, DeploymentPage, DeploymentEditPage } from './pages/deployments';
import { PackagesPage } from './pages/packages';
import { JobsPage, JobPage } from './pages/jobs';
import { EventsPage } from './pages/events';
import { AuditPage } from './pages/audit';
import { AccountPage } from './pages/account';

export function App() {
  const token = useSyncExternalStore(onSessionChange, getToken);
  const qc = useQueryClient();
  useEffect(() => {
    if (!token) qc.clear();
  }, [token, qc]);
  if (!token) return <SignIn />;
  return (
    <LiveProvider>
      <Shell />
    </LiveProvider>
  );
}

const NAV = [
  { href: '/fleet', label: 'Fleet' },
  { href: '/deployments', label: 'Deployments' },
  { href: '/rollouts', label: 'Rollouts' },
  { href: '/jobs', label: 'Jobs' },
  { href: '/packages', label: 'Packages' },
  { href: '/events', label: 'Events' },
  { href: '/audit', label: 'Audit', only: 'audit' as const },
];

function Page({ path }: { path: string }) {
  let p: Record<string, string> | null;
  if (path === '/' || path === '/fleet') return <FleetPage />;
  if ((p = match('/agents/:id', path))) return <AgentPage id={p.id!} />;
  if (path === '/rollouts') return <RolloutsPage />;
  if ((p = match('/rollouts/:id', path))) return <RolloutPage id={p.id!} />;
  if (path === '/deployments') return <DeploymentsPage />;
  if (path === '/deployments/new') return <DeploymentEditPage />;
  if ((p = match('/deployments/:name/edit', path))) return <DeploymentEditPage name={p.name!} />;
  if ((p = match('/deployments/:name', path))) return <DeploymentPage name={p.name!} />;
  if (path === '/packages') return <PackagesPage />;
  if (path === '/jobs') return <JobsPage />;
  if ((p = match('/jobs/:id', path))) return <JobPage id={p.id!} />;
  if (path === '/events') return <EventsPage />;
  if (path === '/audit') return <AuditPage />;
  if (path === '/account') return <AccountPage />;
  return (
    <section className="page">
      <h1>Not found</h1>
      <p>
        No page at this address. <Link href="/fleet">Go to the fleet</Link>.
      </p>
    </section>
  );
}

function Shell() {
  const { path } = useLocation();
  const live = useLive();
  const inbox = useInbox();
  const me = useMe();
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const [help, setHelp] = useState(false);
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)) return;
      if (e.key === '/') {
        const search = document.querySelector<HTMLInputElement>('[data-search]');
        if (search) {
          e.preventDefault();
          search.focus();
          search.select();
        }
      } else if (e.key === 'i') {
        e.preventDefault();
        navigate('/rollouts?view=inbox');
      } else if (e.key === '?') {
        setHelp((h) => !h);
      } else if (e.key === 'Escape') setHelp(false);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  // A new page moves focus to its content, for keyboard and screen-reader users.
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
  }, [path]);

  const inboxCount = inbox.items.length;
  return (
    <div className="shell">
      <a href="#main" className="skip">
        Skip to content
      </a>
      <header className="topbar">
        <Link href="/fleet" className="brand">
          Corral
        </Link>
        <nav aria-label="Main">
          {NAV.filter((n) => !n.only || can(me.data, n.only)).map((n) => (
            <Link key={n.href} href={n.href} aria-current={path === n.href || path.startsWith(n.href.replace(/s$/, '')) || (n.href === '/fleet' && (path === '/' || path.startsWith('/agents/'))) ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div className="topbar-right">
          <Link href="/rollouts?view=inbox" className={`inbox${inboxCount > 0 ? ' has-items' : ''}`} title="Rollouts waiting for you (shortcut: i)">
            Inbox <span className="count">{inboxCount}</span>
            {inboxCount > 0 ? (
              <span className="inbox-detail">
                {inbox.promote > 0 && ` ${inbox.promote} to promote`}
                {inbox.paused > 0 && ` ${inbox.paused} paused`}
              </span>
            ) : (
              <span className="sr-only"> rollouts waiting</span>
            )}
          </Link>
          <span className={`live-dot live-${live.state}`} title={`Live updates: ${live.state}`}>
            {live.state === 'live' ? 'Live' : live.state === 'lost' ? 'Offline' : 'Connecting'}
          </span>
          <button type="button" className="ghost" onClick={() => setTheme((t) => (applyTheme(nextTheme(t)), nextTheme(t)))} title="Theme: system, light or dark">
            Theme: {theme}
          </button>
          <Link href="/account" className="account-link" aria-current={path === '/account' ? 'page' : undefined} title="Your account and API tokens">
            {me.data?.name ?? 'Account'}
            <span className="sr-only"> (your account)</span>
          </Link>
          <button type="button" className="ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      {live.state === 'lost' && (
        <div className="banner" role="alert">
          Connection to the server lost. Retrying by itself; what you see may be out of date.
        </div>
      )}
      <main id="main" ref={main} tabIndex={-1}>
        <Page path={path} />
      </main>
      {help && (
        <div className="help card" role="dialog" aria-label="Keyboard shortcuts">
          <h2>Keyboard shortcuts</h2>
          <dl>
            <dt>
              <kbd>/</kbd>
            </dt>
            <dd>Focus the search box</dd>
            <dt>
              <kbd>i</kbd>
            </dt>
            <dd>Open the inbox (rollouts waiting for you)</dd>
            <dt>
              <kbd>?</kbd>
            </dt>
            <dd>Show or hide this help</dd>
            <dt>
              <kbd>Esc</kbd>
            </dt>
            <dd>Close dialogs</dd>
          </dl>
        </div>
      )}
    </div>
  );
}
