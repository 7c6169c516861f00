export * from "./gateway.js";
export * from "./routes.js";
