#!/usr/bin/env node
// collector-funding: thin wiring; the pipeline lives in libs (see docs/architecture.md).
import { runCollectorApp } from '@cryptoflow/runtime';

await runCollectorApp('collector-funding', 'funding');
