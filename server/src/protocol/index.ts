// The one module the VS Code client may import from the server tree: data types, typed requests and
// the wording every view shares. It holds no engine code (core types are imported as types only).
export * from './types';
export * from './requests';
export * from './wording';
export type * from './cycloneDx';
export * from './serverLaunch';
