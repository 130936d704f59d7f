#!/usr/bin/env node
// collector-spot-ob: thin wiring; the pipeline lives in libs (see docs/architecture.md).
import { runCollectorApp } from '@cryptoflow/runtime';

await runCollectorApp('collector-spot-ob', 'spot-ob');
