/** Light, dark, or the system's choice (prefers-color-scheme); the choice is kept in localStorage (it is not a secret). */
export type Theme = 'system' | 'light' | 'dark';
const KEY = 'corral.console.theme';

export function storedTheme(): Theme {
  const t = localStorage.getItem(KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function applyTheme(t: Theme): void {
  if (t === 'system') {
    document.documentElement.removeAttribute('data-theme');
    localStorage.removeItem(KEY);
  } else {
    document.documentElement.setAttribute('data-theme', t);
    localStorage.setItem(KEY, t);
  }
}

export const nextTheme = (t: Theme): Theme => (t === 'system' ? 'light' : t === 'light' ? 'dark' : 'system');
