/**
 * The one message protocol of RBP Lab, shared by the worker process, the extension host and the
 * webview, one file per channel: `workerEvents.ts` (worker → host, also the run record),
 * `hostCommands.ts` (host → worker), `webview.ts` (host ↔ webview). Each message is declared once,
 * as a schema (`schema.ts`) that both checks it and gives its type; every boundary validates with
 * `parseWorkerMessage` / `parseWorkerEvent` / `parseHostCommand` / `parseWebviewMessage` / `parseHostToWebview`.
 */
export { ProtocolError } from './schema';
export * from './workerEvents';
export * from './hostCommands';
export * from './webview';
