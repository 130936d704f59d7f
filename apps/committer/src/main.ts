#!/usr/bin/env node
// committer: appends the files recorded in the ledger to their Iceberg tables (see docs/operations/lake.md).
import { runCommitterApp } from '@cryptoflow/runtime';

await runCommitterApp();
