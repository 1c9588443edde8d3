/** The CRIU command and image layer: argv builders, output parsers, stats/image decoders, diagnosis. */
export * from './argv.ts';
export * from './parse.ts';
export * from './stats.ts';
export * from './diagnose.ts';
export * from './images.ts';
export * from './magic.ts';
export { ProtoReader, ProtobufError } from './protobuf.ts';
export * from './lazy.ts';
