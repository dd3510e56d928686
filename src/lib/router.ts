/** Router factory so every feature router shares the validation hook. */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../types';
import { validationHook } from './validation';

export function newRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      validationHook(result as Parameters<typeof validationHook>[0]);
    },
  });
}

export type Router = ReturnType<typeof newRouter>;
