/**
 * Where the deterministic router model plugs in. src/agents/router-model.ts (i14-chat) calls
 * `provideRouterModel(factory)` when its module loads; the agent loop reads the slot when an agent
 * names no provider. Kept apart so the loop does not import a module another branch owns.
 */
import type { RouterModelFactory } from './contract';

let factory: RouterModelFactory | undefined;

export function provideRouterModel(f: RouterModelFactory): void {
  factory = f;
}

export function routerModelFactory(): RouterModelFactory | undefined {
  return factory;
}
