/** Dark mode: follows prefers-color-scheme until the user picks one with the toggle (remembered in localStorage). */
import { useEffect, useState } from 'react';

type Theme = 'light' | 'dark' | 'system';
const KEY = 'edgecrew.theme';

function stored(): Theme {
  try {
    const t = localStorage.getItem(KEY);
    return t === 'light' || t === 'dark' ? t : 'system';
  } catch {
    return 'system';
  }
}

export function useTheme() {
  const [theme, setTheme] = useState<Theme>(stored);
  useEffect(() => {
    const root = document.documentElement;
    if (theme === 'system') {
      delete root.dataset.theme;
      localStorage.removeItem(KEY);
    } else {
      root.dataset.theme = theme;
      localStorage.setItem(KEY, theme);
    }
  }, [theme]);
  const dark = theme === 'dark' || (theme === 'system' && matchMedia('(prefers-color-scheme: dark)').matches);
  return { theme, dark, toggle: () => setTheme(dark ? 'light' : 'dark') };
}

export function ThemeToggle() {
  const { dark, toggle } = useTheme();
  return (
    <button type="button" className="btn btn-link theme-toggle" onClick={toggle} aria-pressed={dark}>
      <span aria-hidden="true">{dark ? '☾' : '☀'}</span> Dark mode
    </button>
  );
}
