// Finds every regular expression a source file can run: literals, RegExp constructions and schema `pattern` strings.
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface FoundPattern {
  file: string;
  line: number;
  /** The pattern's source, or null when it is built at run time and cannot be read from the file. */
  source: string | null;
  flags: string;
  kind: 'literal' | 'constructor' | 'schema';
}

export function sourceFiles(dir: string, root = dir): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path, root));
    else if (/\.(ts|mjs)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

export function patternsIn(path: string, root: string): FoundPattern[] {
  const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: FoundPattern[] = [];
  const at = (node: ts.Node) => ({ file: relative(root, path), line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1 });
  const text = (node: ts.Node | undefined): string | null => (node && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) ? node.text : null);
  const visit = (node: ts.Node): void => {
    if (ts.isRegularExpressionLiteral(node)) {
      const slash = node.text.lastIndexOf('/');
      found.push({ ...at(node), source: node.text.slice(1, slash), flags: node.text.slice(slash + 1), kind: 'literal' });
    } else if ((ts.isNewExpression(node) || ts.isCallExpression(node)) && ts.isIdentifier(node.expression) && node.expression.text === 'RegExp') {
      const args = node.arguments ?? [];
      found.push({ ...at(node), source: text(args[0]), flags: args[1] === undefined ? '' : (text(args[1]) ?? '?'), kind: 'constructor' });
    } else if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && node.name.text === 'pattern' && text(node.initializer) !== null) {
      // TypeBox `pattern` keywords: Ajv compiles them with the u flag and runs them on request input.
      found.push({ ...at(node), source: text(node.initializer), flags: 'u', kind: 'schema' });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}
