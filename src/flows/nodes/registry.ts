/** Every node type, by name. Adding one = its module + one line here. */

import { experimentEvaluateNode, experimentExamplesNode } from '../../evals/nodes';
import { agentNode } from './agent';
import { approvalNode } from './approval';
import { mapNode, subflowNode } from './child-runs';
import { conditionNode } from './condition';
import { delayNode } from './delay';
import { httpNode } from './http';
import { llmNode } from './llm';
import { retrieveNode } from './retrieve';
import { toolNode } from './tool';
import { transformNode } from './transform';
import type { NodeType } from './types';

// biome-ignore lint/suspicious/noExplicitAny: each node's config type differs; the registry is keyed by name and checked by the node's own zod schema.
export const NODE_TYPES: Readonly<Record<string, NodeType<any>>> = Object.fromEntries(
  [
    transformNode,
    conditionNode,
    httpNode,
    llmNode,
    toolNode,
    delayNode,
    approvalNode,
    subflowNode,
    mapNode,
    agentNode,
    retrieveNode,
    // Internal: the run of an experiment (src/evals/experiments-service.ts).
    experimentExamplesNode,
    experimentEvaluateNode,
  ].map((n) => [n.type, n]),
);
