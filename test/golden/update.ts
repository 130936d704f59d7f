/** `npm run golden:update`: regenerates every golden file from the captures. Review the diff before committing. */
import { updateStreamGoldens } from './streams.js';

await updateStreamGoldens();
const books = './books-golden.js';
try {
  const mod = (await import(books)) as { updateBookGoldens?: () => Promise<void> };
  await mod.updateBookGoldens?.();
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
}
