// Lossless JSON and id helpers are the sink's (the client and this server must agree byte for byte).
import { parseJson, sameId, stringifyJson, toBigIntId } from '@cryptoflow/sink';

export { parseJson, stringifyJson };

/** Compare two JSON integers that may be number (small) or bigint (large). */
export const idEq = sameId;

export function toBig(a: unknown): bigint {
  return toBigIntId(a, 'id');
}
