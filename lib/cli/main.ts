#!/usr/bin/env node
/**
 * The `ebm` command line: train / sample / eval / plot / launch / schema. Exit status: 0 success, 1 a failure while
 * running (bad config file, unreadable data, numerics), 2 a usage error (unknown flag, bad flag
 * value, missing argument), 130 interrupted by Ctrl-C. Errors are one line `ebm: <reason>` on
 * stderr; set EBM_DEBUG=1 to also get the stack.
 */
import { EbmError } from '../errors';
import { version } from '../runtime';
import { UsageError, wantsHelp } from './args';
import { evalCommand, evalHelp } from './eval';
import { launchCommand, launchHelp } from './launch';
import { plotCommand, plotHelp } from './plot';
import { sampleCommand, sampleHelp } from './sample';
import { schemaCommand, schemaHelp } from './schema';
import { trainCommand, trainHelp } from './train';

const topHelp = `Usage: ebm <command> [options]

Energy-based models on LibTorch, from the command line.

Commands:
  train <config.json>         train a model from a config file into a run folder (runs/<name>)
  sample <model.safetensors>  draw samples from a saved model into an NPY file (and a PNG)
  eval <model.safetensors>    print a saved model's energy and grid NLL on data, as JSON
  plot <runDir>               redraw loss.png and density.png of a run folder
  launch --nproc N <script>   run a script as N data-parallel ranks (torchrun's variables)
  schema [--out FILE]         print the JSON Schema of run-config files (for editors)

Options:
  -h, --help      show help ('ebm <command> --help' for a command's options)
  -v, --version   print the ebm-torch and LibTorch versions

Exit status: 0 ok, 1 failure, 2 usage error, 130 interrupted.

Example:
  ebm train examples/8gaussians-ed.json && ebm plot runs/8gaussians-ed`;

interface Command {
  help: string;
  run: (argv: readonly string[]) => Promise<number>;
}

const commands: Record<string, Command> = {
  train: { help: trainHelp, run: trainCommand },
  sample: { help: sampleHelp, run: sampleCommand },
  eval: { help: evalHelp, run: evalCommand },
  plot: { help: plotHelp, run: plotCommand },
  launch: { help: launchHelp, run: launchCommand },
  schema: { help: schemaHelp, run: schemaCommand },
};

function versionText(): string {
  const v = version();
  const cuda = v.cudaAvailable ? `CUDA available (${v.cudaDeviceCount} device(s))` : 'CUDA not available';
  return `ebm-torch ${v.ebmTorch}\nLibTorch ${v.torch}\ndevice ${v.device}, ${cuda}, ${v.numThreads} threads`;
}

/** One line: newlines inside a message would break `ebm: <reason>`. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** Runs the CLI on `argv` (without node and the script) and returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      const topic = first === 'help' ? rest[0] : undefined;
      if (topic !== undefined && commands[topic]) {
        process.stdout.write(commands[topic].help + '\n');
      } else if (topic !== undefined) {
        throw new UsageError(`unknown command '${topic}' (commands: ${Object.keys(commands).join(', ')})`);
      } else if (first === undefined) {
        process.stderr.write(topHelp + '\n');
        return 2;
      } else {
        process.stdout.write(topHelp + '\n');
      }
      return 0;
    }
    if (first === '--version' || first === '-v' || first === 'version') {
      if (rest.length > 0) throw new UsageError(`'ebm --version' takes no arguments`);
      process.stdout.write(versionText() + '\n');
      return 0;
    }
    const command = commands[first];
    if (!command) {
      if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (see 'ebm --help')`);
      throw new UsageError(`unknown command '${first}' (commands: ${Object.keys(commands).join(', ')})`);
    }
    if (wantsHelp(rest)) {
      process.stdout.write(command.help + '\n');
      return 0;
    }
    return await command.run(rest);
  } catch (err) {
    const debug = process.env.EBM_DEBUG !== undefined && process.env.EBM_DEBUG !== '' && process.env.EBM_DEBUG !== '0';
    if (err instanceof UsageError) {
      process.stderr.write(`ebm: ${oneLine(err.message)}\n`);
      return 2;
    }
    if (err instanceof EbmError) {
      process.stderr.write(`ebm: ${oneLine(err.message)}\n`);
      if (debug && err.stack) process.stderr.write(err.stack + '\n');
      return 1;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`ebm: internal error: ${oneLine(e.message)} (set EBM_DEBUG=1 for details)\n`);
    if (debug && e.stack) process.stderr.write(e.stack + '\n');
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ebm: internal error: ${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
