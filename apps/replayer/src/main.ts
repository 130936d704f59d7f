#!/usr/bin/env node
// replayer: recorded frames through the collector pipeline as fast as it goes (golden tests, backfills).
import { runReplayerApp } from '@cryptoflow/runtime';

await runReplayerApp(process.argv.slice(2));
