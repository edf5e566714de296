// Reads a callgrind dump (the format valgrind --tool=callgrind writes) and splits its instruction
// count (Ir) into V8's garbage collection, V8's compilers, and the rest. Used by instructions.js.
//
// A dump lists, per function, the instructions executed in the function itself ("self") and, for
// each call it made, the call's inclusive cost (everything executed until that call returned). The
// cost of a group of functions (say every GC entry point) is the sum of the inclusive costs of the
// calls that enter the group from a function outside it: a GC function calling another GC function
// is not counted twice, and neither is a recursive call.
'use strict';
const fs = require('node:fs');

/** Recursion copies (`name'2`, from --separate-recs) are the same function. */
const base = (name) => name.replace(/'\d+$/, '');

/**
 * Parses a callgrind file with a single event (Ir). Returns `{ totals, self: Map<name, Ir>,
 * calls: Map<caller, Map<callee, inclusive Ir>>, callCounts: Map<callee, times called> }`.
 */
function parse(file) {
  const text = fs.readFileSync(file, 'utf8');
  const names = new Map(); // fn/cfn name compression: "(id) name" defines, "(id)" refers
  const nameOf = (spec) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return spec;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]);
  };
  const self = new Map();
  const calls = new Map();
  const callCounts = new Map(); // callee -> how many times it was called
  let count = 0;
  let totals = NaN;
  let summary = NaN;
  let fn = null;
  let callee = null; // set by cfn=, used by the cost line after calls=
  let inCall = false;
  const add = (map, key, n) => map.set(key, (map.get(key) || 0) + n);
  for (const line of text.split('\n')) {
    if (!line) continue;
    const c = line.charCodeAt(0);
    // A cost line: a position (number, +n, -n or *) then the cost.
    if ((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 42) {
      const sp = line.indexOf(' ');
      const ir = sp < 0 ? 0 : Number(line.slice(sp + 1).trim().split(' ')[0] || 0);
      if (inCall) {
        let m = calls.get(fn);
        if (!m) calls.set(fn, (m = new Map()));
        add(m, callee, ir);
        add(callCounts, callee, count);
        inCall = false;
      } else {
        add(self, fn, ir);
      }
      continue;
    }
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq) : '';
    if (key === 'fn') fn = nameOf(line.slice(3));
    else if (key === 'cfn') callee = nameOf(line.slice(4));
    else if (key === 'calls') {
      inCall = true;
      count = Number(line.slice(6).split(' ')[0]);
    }
    else if (line.startsWith('totals:')) totals = Number(line.slice(7).trim());
    else if (line.startsWith('summary:')) summary = Number(line.slice(8).trim());
  }
  // A dump taken with the instrumentation on from the start has "summary:"; both are the total.
  return { totals: Number.isFinite(totals) ? totals : summary, self, calls, callCounts };
}

/**
 * The instructions executed under a group of functions: the inclusive cost of every call into one
 * of its entry points (`entry`) made by a function that is not itself part of the group's
 * machinery (`inside`, a wider pattern that includes the entry points). So a collection that a
 * collection's own code started, or a TurboFan job that the compiler's own dispatcher ran, is not
 * counted twice. `inside` is searched anywhere in a caller's name (templates such as
 * `auto v8::internal::compiler::PipelineImpl::Run<...>` start with their return type). Names are
 * those of the dump, with recursion copies (`name'2`) folded.
 */
function groupCost(parsed, { entry, inside }) {
  let sum = 0;
  const memo = new Map();
  const is = (rx, name) => {
    const key = `${rx.source}\n${name}`;
    if (!memo.has(key)) memo.set(key, rx.test(base(name)));
    return memo.get(key);
  };
  for (const [caller, callees] of parsed.calls) {
    if (is(inside, caller)) continue;
    for (const [callee, ir] of callees) if (is(entry, callee)) sum += ir;
  }
  return sum;
}

/**
 * V8's garbage collector, which the apps run on their main thread (--single-threaded: no helper
 * threads). Every collection, minor (scavenge) or full (mark-compact), goes through
 * Heap::CollectGarbage, whether an allocation failed, a task asked for it or gc() was called;
 * incremental marking is started and stepped on allocation or by a task, and while it runs the
 * write barrier's marking path (WriteBarrier::Marking*) marks what the program stores.
 */
const GC = {
  entry: /^v8::internal::(Heap::(CollectGarbage|CollectAllGarbage|CollectAllAvailableGarbage|StartIncrementalMarking\w*|FinalizeIncrementalMarking\w*)\(|IncrementalMarking::(AdvanceOnAllocation|Step|AdvanceAndFinalizeIfComplete|Start)\b|IncrementalMarking::Observer::Step|IncrementalMarkingJob::Task::RunInternal|WriteBarrier::Marking\w*\(|MemoryReducer::TimerTask::RunInternal|MinorGCJob::Task::RunInternal|ScavengeJob::Task::RunInternal)/,
  inside: /(v8::internal::(Heap::(CollectGarbage|CollectAllGarbage|CollectAllAvailableGarbage|PerformGarbageCollection|Scavenge|MarkCompact|MinorMarkCompact|StartIncrementalMarking\w*|FinalizeIncrementalMarking\w*|GarbageCollection\w*|CallGCPrologueCallbacks|CallGCEpilogueCallbacks)\(|\w*Scaveng\w*::|\w*MarkCompactCollector::|IncrementalMarking\w*::|MarkingBarrier::|WriteBarrier::Marking\w*\(|Sweeper::|GCTracer::|\w*Evacuat\w*::|MemoryReducer::|MinorGCJob::|ScavengeJob::)|v8::platform::DefaultJob|heap::base::)/,
};

/**
 * V8's compilers: lazy compilation (parser and bytecode generator), Sparkplug (baseline), Maglev
 * and TurboFan (run on the main thread with --single-threaded), with on-stack replacement,
 * entered through their runtime functions, the Compiler class or the baseline batch compiler.
 */
const COMPILE = {
  entry: /^v8::internal::(Runtime_Compile\w*\(|Runtime_InstallBaselineCode\(|Compiler::|compiler::|baseline::|maglev::|Parser::|interpreter::BytecodeGenerator::)/,
  inside: /v8::internal::(Runtime_Compile\w*\(|Runtime_InstallBaselineCode\(|\w*Compil\w*::|(\(anonymous namespace\)::)?\w*Compile\w*\(|compiler::|baseline::|maglev::|Parser::|ParserBase<|PreParser::|interpreter::|parsing::|ParserTypes<|TieringManager::|OptimizingCompileDispatcher::|\(anonymous namespace\)::\w*(Job|Unoptimized)\w*\()/,
};

/** How many times functions whose name matches `rx` were called. */
function timesCalled(parsed, rx) {
  let n = 0;
  for (const [callee, count] of parsed.callCounts) if (rx.test(base(callee))) n += count;
  return n;
}

/**
 * Total instructions, those under GC and under the compilers, of one dump file; and how many
 * minor (scavenge) and full (mark-compact) collections it saw.
 */
function split(file) {
  const parsed = parse(file);
  const gc = groupCost(parsed, GC);
  const compile = groupCost(parsed, COMPILE);
  return {
    total: parsed.totals, gc, compile, rest: parsed.totals - gc - compile,
    scavenges: timesCalled(parsed, /^v8::internal::Heap::Scavenge\(\)/),
    fullGCs: timesCalled(parsed, /^v8::internal::Heap::MarkCompact\(\)/),
  };
}

/** The calls into a group's entry points that {@link groupCost} counts, by callee (to inspect a dump). */
function entries(file, group, limit = 30) {
  const parsed = parse(file);
  const by = new Map();
  for (const [caller, callees] of parsed.calls) {
    if (group.inside.test(base(caller))) continue;
    for (const [callee, ir] of callees) {
      if (!group.entry.test(base(callee))) continue;
      const key = `${base(callee).slice(0, 100)}  <-  ${base(caller).slice(0, 80)}`;
      by.set(key, (by.get(key) || 0) + ir);
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]).slice(0, limit);
}

module.exports = { parse, groupCost, split, entries, GC, COMPILE };

// `node bench/callgrind.js FILE`: the split of a dump, and the calls counted as GC and as compilation.
if (require.main === module) {
  const file = process.argv[2];
  console.log(split(file));
  for (const [name, group] of [['GC', GC], ['compilation', COMPILE]]) {
    console.log(`-- ${name}`);
    for (const [call, ir] of entries(file, group)) console.log(String(ir).padStart(14), call);
  }
}
