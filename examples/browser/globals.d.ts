// The global that the unmodified @wsrpc/client (its UMD build, loaded by
// index.html before app.js) defines, as app.js uses it. The calls and routes
// themselves are typed by api.ts.
interface WSRPCClient {
  call(method: string, params: any, ...rest: any[]): Promise<any>;
  addRoute(route: string, callback: (params: any) => any, isAsync?: boolean): void;
  addEventListener(event: "onconnect" | "onclose" | "onerror" | "onchange", callback: (event: unknown) => void): number;
  addServerEventListener(callback: (event: any) => void): number;
  connect(): void;
}

declare const WSRPC: { new (url: string, reconnectTimeout?: number): WSRPCClient };
