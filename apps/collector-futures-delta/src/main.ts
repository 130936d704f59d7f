#!/usr/bin/env node
// collector-futures-delta: thin wiring; the pipeline lives in libs (see docs/architecture.md).
import { runCollectorApp } from '@cryptoflow/runtime';

await runCollectorApp('collector-futures-delta', 'futures-delta');
