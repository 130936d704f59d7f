#!/usr/bin/env node
// collector-liquidations: thin wiring; the pipeline lives in libs (see docs/architecture.md).
import { runCollectorApp } from '@cryptoflow/runtime';

await runCollectorApp('collector-liquidations', 'liquidations');
