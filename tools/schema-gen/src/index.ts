export {
  TERRAFORM_TABLES_PATH,
  DATA_CONTRACTS_DIR,
  GENERATED_BANNER,
  checkCreatableIds,
  hclString,
  renderTerraformTables,
  renderTableDoc,
  renderIndex,
  generatedFiles,
  partitionSpecUpdate,
} from './generate.js';
export { REPO_ROOT, checkGenerated, writeGenerated } from './files.js';
export type { StaleReport } from './files.js';
