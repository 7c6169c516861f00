export * from "./behaviour.js";
export * from "./callbacks.js";
export * from "./config.js";
export * from "./server.js";
