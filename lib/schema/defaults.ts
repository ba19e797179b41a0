/**
 * The defaults of optional config fields. The native option structs own them (each default next
 * to its field) and the addon exports them as JSON (`optionDefaultsJson`); the schemas read them here,
 * when they fill in a config, so every default exists once.
 */
import { native, NativeOptionDefaults } from '../native';

let cached: NativeOptionDefaults | undefined;

/** The defaults of every optional config field (the addon's, read once). */
export function optionDefaults(): NativeOptionDefaults {
  cached ??= JSON.parse(native().optionDefaultsJson) as NativeOptionDefaults;
  return cached;
}
