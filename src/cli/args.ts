/**
 * A small, strict command-line parser: every option is declared, so an unknown or misspelt flag is a usage
 * error instead of being silently ignored. Accepts `--name value`, `--name=value`, `-x value` for declared short
 * names, repeatable options, and `--` to end options.
 */
import { UsageError } from "./errors.js";

export interface OptionSpec {
  /** Long name without the dashes, e.g. "batch-size". */
  readonly name: string;
  /** One-letter alias without the dash, e.g. "m". */
  readonly short?: string;
  /** "flag": present or not; "string": takes a value; repeatable strings collect every occurrence. */
  readonly kind: "flag" | "string";
  readonly repeatable?: boolean;
  /** Value placeholder and one-line description, for --help. */
  readonly value?: string;
  readonly help: string;
}

export interface ParsedArgs {
  /** Flags map to true; strings to their value (repeatable: every value in order). */
  readonly options: Map<string, true | string | string[]>;
  readonly positionals: string[];
}

/** Parse `argv` (arguments after the command name) against `specs`; `command` names the command in messages. */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], command: string): ParsedArgs {
  const byLong = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short !== undefined).map((s) => [s.short as string, s]));
  const options = new Map<string, true | string | string[]>();
  const positionals: string[] = [];

  const set = (spec: OptionSpec, value: string | undefined, shown: string) => {
    if (spec.kind === "flag") {
      if (value !== undefined) throw new UsageError(command, `option ${shown} takes no value`);
      options.set(spec.name, true);
      return;
    }
    if (value === undefined) throw new UsageError(command, `option ${shown} needs a value${spec.value ? ` (${spec.value})` : ""}`);
    if (spec.repeatable) {
      const prev = options.get(spec.name);
      options.set(spec.name, Array.isArray(prev) ? [...prev, value] : [value]);
    } else {
      if (options.has(spec.name)) throw new UsageError(command, `option ${shown} given more than once`);
      options.set(spec.name, value);
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const spec = byLong.get(name);
      if (spec === undefined) throw new UsageError(command, `unknown option --${name}`);
      let value = eq === -1 ? undefined : arg.slice(eq + 1);
      if (value === undefined && spec.kind === "string") {
        if (i + 1 >= argv.length) throw new UsageError(command, `option --${name} needs a value${spec.value ? ` (${spec.value})` : ""}`);
        value = argv[++i];
      }
      set(spec, value, `--${name}`);
    } else if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
      const letter = arg.slice(1, 2);
      const spec = byShort.get(letter);
      if (spec === undefined) throw new UsageError(command, `unknown option ${arg}`);
      let value: string | undefined = arg.length > 2 ? arg.slice(2) : undefined;
      if (spec.kind === "flag" && value !== undefined) throw new UsageError(command, `unknown option ${arg}`);
      if (value === undefined && spec.kind === "string") {
        if (i + 1 >= argv.length) throw new UsageError(command, `option -${letter} needs a value${spec.value ? ` (${spec.value})` : ""}`);
        value = argv[++i];
      }
      set(spec, value, `-${letter}`);
    } else {
      positionals.push(arg);
    }
  }
  return { options, positionals };
}

/** Typed accessors over a parse result, so commands read options without casts. */
export function optionReader(parsed: ParsedArgs, command: string) {
  return {
    flag: (name: string): boolean => parsed.options.get(name) === true,
    string: (name: string): string | undefined => {
      const v = parsed.options.get(name);
      return typeof v === "string" ? v : undefined;
    },
    list: (name: string): string[] => {
      const v = parsed.options.get(name);
      return Array.isArray(v) ? v : [];
    },
    /** A number in [min, max]; `integer` rejects fractions. */
    number: (name: string, range: { min: number; max: number; integer?: boolean }): number | undefined => {
      const v = parsed.options.get(name);
      if (typeof v !== "string") return undefined;
      const n = v.trim() === "" ? NaN : Number(v);
      const kind = range.integer ? "an integer" : "a number";
      if (!Number.isFinite(n) || (range.integer && !Number.isInteger(n)) || n < range.min || n > range.max) {
        const bounds = range.max === Infinity ? `≥ ${range.min}` : `between ${range.min} and ${range.max}`;
        throw new UsageError(command, `--${name} must be ${kind} ${bounds}, got "${v}"`);
      }
      return n;
    },
  };
}

/** Render the option table of a command's --help. */
export function formatOptions(specs: readonly OptionSpec[]): string {
  const rows = specs.map((s) => {
    const names = `${s.short ? `-${s.short}, ` : "    "}--${s.name}${s.kind === "string" ? ` ${s.value ?? "VALUE"}` : ""}`;
    return [names, s.help + (s.repeatable ? " (repeatable)" : "")] as const;
  });
  const width = Math.min(38, Math.max(...rows.map(([n]) => n.length)) + 2);
  return rows.map(([n, h]) => (n.length + 2 > width ? `  ${n}\n  ${" ".repeat(width)}${h}` : `  ${n.padEnd(width)}${h}`)).join("\n");
}
