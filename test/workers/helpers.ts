/**
 * Kept only for test/workers/flows/**, which moves to the kit (test/support/) when branch `engine`
 * merges; delete this file then. Everything else imports test/support/workers/* directly.
 */
export { BASE, type CallOptions, call, freshIp, json } from '../support/workers/http';
export { addMember, createApiKey, PASSWORD, signup, type TestTenant, uniqueEmail } from '../support/workers/tenants';
