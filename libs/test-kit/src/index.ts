export * from "./infra.js";
export * from "./logs.js";
export * from "./proxy.js";
export * from "./wait.js";
export * from "./process.js";
export * from "./platform.js";
export * from "./settle.js";
export * from "./npm-start.js";
