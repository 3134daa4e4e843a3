import ValidatorSelector from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type Compiled = ((data: unknown) => unknown) & { errors?: unknown };

/** Wraps a compiled function so that it is built on its first call. */
function onFirstCall<F extends Compiled>(build: () => F): F {
  let built: F | undefined;
  const call = function (this: unknown, data: unknown) {
    built ??= build();
    const result = built.call(this, data);
    // Fastify reads an Ajv validator's `errors` after a failed call.
    call.errors = built.errors;
    return result;
  } as F;
  return call;
}

/**
 * Fastify's own schema compilers (Ajv for validation, fast-json-stringify for responses), each route's code
 * generated on the route's first request instead of at start. With some 150 routes, compiling them all took
 * ~270 ms of a ~700 ms start (measured on Node 20) and memory for routes a deployment may never call; a first
 * call pays a millisecond or two once. The compilers, their options and their answers are Fastify's defaults.
 * Tests call every route (the authorization matrix), so a schema that does not compile still fails there.
 */
export function lazySchemaCompilers(): NonNullable<FastifyServerOptions['schemaController']> {
  type Select = (...args: unknown[]) => (route: unknown) => Compiled;
  const lazily = (select: Select) => (externalSchemas: unknown, options: unknown) => {
    const compile = select(externalSchemas, options);
    return (route: unknown) => onFirstCall(() => compile(route));
  };
  type Factories = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>;
  // The wrappers answer what the compilers answer, only later; Fastify's types name Ajv's own function type.
  return {
    compilersFactory: {
      buildValidator: lazily(ValidatorSelector() as unknown as Select),
      buildSerializer: lazily(SerializerSelector() as unknown as Select),
    } as unknown as Factories,
  };
}
