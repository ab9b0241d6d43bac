// LL007: `pipeline("task")` without a model loads whatever default the library version picks.
import { DiagnosticCodes } from '../../protocol';
import type { Rule } from './types';

export const implicitDefaultModel: Rule = ({ reference: { site } }) => {
  if (!site.flags.implicitDefault) return [];
  return [{
    code: DiagnosticCodes.implicitDefaultModel,
    range: site.range,
    message: `pipeline(${site.task ? `"${site.task}"` : ''}) without a model loads a default the library picks, which can change between versions; name the model and pin its revision`,
  }];
};
