export { Button } from './Button';
export { Empty } from './Empty';
export { ErrorBanner } from './ErrorBanner';
export { describedBy, Field, FieldFrame, Form, pathKey, useField, useFieldErrors } from './Form';
export { Layout } from './Layout';
export { Loading } from './Loading';
export { ThemeToggle, useTheme } from './theme';
