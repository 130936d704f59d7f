#!/usr/bin/env node
// collector-futures-ob: thin wiring; the pipeline lives in libs (see docs/architecture.md).
import { runCollectorApp } from '@cryptoflow/runtime';

await runCollectorApp('collector-futures-ob', 'futures-ob');
