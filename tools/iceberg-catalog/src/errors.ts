/** An Iceberg REST error: rendered as `{ "error": { message, type, code } }` (OpenAPI IcebergErrorResponse). */
export class CatalogError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'CatalogError';
  }
}

export const badRequest = (msg: string): CatalogError => new CatalogError(400, 'BadRequestException', msg);
export const commitFailed = (msg: string): CatalogError =>
  new CatalogError(409, 'CommitFailedException', msg);
export const noSuchTable = (ns: string, name: string): CatalogError =>
  new CatalogError(404, 'NoSuchTableException', `Table does not exist: ${ns}.${name}`);
export const noSuchNamespace = (ns: string): CatalogError =>
  new CatalogError(404, 'NoSuchNamespaceException', `Namespace does not exist: ${ns}`);
