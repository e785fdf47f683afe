// A module resolution hook that adds the `ehmi-source` export condition, so the @ehmi/* workspace packages resolve
// to their TypeScript sources (`"ehmi-source": "./src/index.ts"`) instead of their built dist/ (see DESIGN-NOTES.md,
// "Libraries"). Registered by bin/ehmi.js after tsx; the same as `node --conditions=ehmi-source`.
const CONDITION = 'ehmi-source';

export async function resolve(specifier, context, nextResolve) {
  if (context.conditions.includes(CONDITION)) return nextResolve(specifier, context);
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, CONDITION] });
}
