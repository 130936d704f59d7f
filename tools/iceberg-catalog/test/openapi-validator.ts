/**
 * A small JSON-Schema checker for the subset rest-catalog-open-api.yaml uses in the responses we
 * serve: $ref, allOf/anyOf/oneOf, type (integer accepts bigint: our 63-bit ids), nullable, required,
 * properties, additionalProperties, items, enum, const, minimum/maximum. Written here rather than
 * pulling in a validator because OpenAPI 3.1 + `nullable` + bigint values need adapting anyway, and
 * every rule it checks is visible in 80 lines.
 */
type Schema = Record<string, unknown>;

export class OpenApiValidator {
  constructor(private readonly doc: Record<string, unknown>) {}

  resolve(ref: string): Schema {
    if (!ref.startsWith('#/')) throw new Error(`external $ref not supported: ${ref}`);
    let node: unknown = this.doc;
    for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown>)[part];
    if (node === undefined) throw new Error(`dangling $ref ${ref}`);
    return node as Schema;
  }

  /** The JSON schema of a path/method/status response (following response $refs). */
  responseSchema(path: string, method: string, status: number): Schema | undefined {
    const op = ((this.doc['paths'] as Record<string, Record<string, Schema>>)[path] ?? {})[method];
    if (!op) throw new Error(`${method.toUpperCase()} ${path} is not in the spec`);
    const responses = op['responses'] as Record<string, Schema>;
    let r = responses[String(status)] ?? responses[`${String(status)[0]}XX`];
    if (!r) throw new Error(`${method.toUpperCase()} ${path} has no ${status} response in the spec`);
    if (typeof r['$ref'] === 'string') r = this.resolve(r['$ref']);
    const content = r['content'] as Record<string, { schema?: Schema }> | undefined;
    return content?.['application/json']?.schema;
  }

  validate(schema: Schema, value: unknown, at = '$'): string[] {
    if (typeof schema['$ref'] === 'string') return this.validate(this.resolve(schema['$ref']), value, at);
    const errors: string[] = [];
    if (value === null) {
      if (
        schema['nullable'] === true ||
        schema['type'] === 'null' ||
        (Array.isArray(schema['type']) && schema['type'].includes('null'))
      )
        return [];
    }
    if (Array.isArray(schema['allOf']))
      for (const s of schema['allOf'] as Schema[]) errors.push(...this.validate(s, value, at));
    if (Array.isArray(schema['anyOf'])) {
      const ok = (schema['anyOf'] as Schema[]).some((s) => this.validate(s, value, at).length === 0);
      if (!ok) errors.push(`${at}: matches none of anyOf`);
    }
    if (Array.isArray(schema['oneOf'])) {
      const n = (schema['oneOf'] as Schema[]).filter((s) => this.validate(s, value, at).length === 0).length;
      if (n !== 1) errors.push(`${at}: matches ${n} of oneOf (need exactly 1)`);
    }
    const type = schema['type'];
    if (typeof type === 'string' && !typeMatches(type, value)) {
      errors.push(
        `${at}: expected ${type}, got ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`,
      );
      return errors;
    }
    if (schema['const'] !== undefined && value !== schema['const'])
      errors.push(`${at}: expected const ${JSON.stringify(schema['const'])}`);
    if (Array.isArray(schema['enum']) && !schema['enum'].includes(value))
      errors.push(`${at}: ${String(value)} not in enum`);
    if (typeof value === 'number' || typeof value === 'bigint') {
      if (typeof schema['minimum'] === 'number' && value < schema['minimum'])
        errors.push(`${at}: below minimum`);
      if (typeof schema['maximum'] === 'number' && value > schema['maximum'])
        errors.push(`${at}: above maximum`);
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      const obj = value as Record<string, unknown>;
      for (const k of (schema['required'] as string[] | undefined) ?? [])
        if (!(k in obj)) errors.push(`${at}: missing required ${k}`);
      const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
      for (const [k, v] of Object.entries(obj)) {
        if (props[k]) errors.push(...this.validate(props[k], v, `${at}.${k}`));
        else if (schema['additionalProperties'] === false) errors.push(`${at}: unexpected property ${k}`);
        else if (typeof schema['additionalProperties'] === 'object')
          errors.push(...this.validate(schema['additionalProperties'] as Schema, v, `${at}.${k}`));
      }
    }
    if (Array.isArray(value) && typeof schema['items'] === 'object') {
      value.forEach((v, i) => errors.push(...this.validate(schema['items'] as Schema, v, `${at}[${i}]`)));
    }
    return errors;
  }
}

function typeMatches(type: string, value: unknown): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'string':
      return typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value));
    case 'number':
      return typeof value === 'number' || typeof value === 'bigint';
    case 'null':
      return value === null;
    default:
      return true;
  }
}
