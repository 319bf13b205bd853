#!/usr/bin/env node
// Lists every function, method and arrow in src/ (tests excluded) longer than a limit, longest first.
// Usage: node scripts/long-functions.mjs [limit=80] [--exclude path ...] [--check: exit 1 when one is listed without a reason]
// A function whose leading comment, first comment inside its body, or an enclosing function's such comment says
// "Long on purpose: <reason>" is listed apart.
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

const args = process.argv.slice(2);
const limit = Number(args.find((a) => /^\d+$/.test(a)) ?? 80);
const excluded = new Set();
for (let i = 0; i < args.length; i++) if (args[i] === "--exclude" && args[i + 1]) excluded.add(args[++i]);

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|mts)$/.test(name) && !/\.test\.ts$/.test(name) && !name.endsWith(".d.ts")) yield path;
  }
}

function nameOf(node) {
  if (node.name && ts.isIdentifier(node.name)) return node.name.text;
  if (node.name) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText();
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText();
  if (parent && ts.isPropertyDeclaration(parent)) return parent.name.getText();
  if (parent && ts.isCallExpression(parent)) return `<callback of ${parent.expression.getText().slice(0, 40)}>`;
  return "<anonymous>";
}

const REASON = /Long on purpose:/;
const saysReason = (text, pos) => (ts.getLeadingCommentRanges(text, pos) ?? []).some((r) => REASON.test(text.slice(r.pos, r.end)));
/**
 * Whether the node, or a function or statement around it, carries a "Long on purpose:" comment: leading, or the first
 * comment inside a function's body.
 */
function hasReason(node, text) {
  for (let n = node; n; n = n.parent) {
    if (saysReason(text, n.getFullStart())) return true;
    const first = ts.isFunctionLike(n) && n.body && ts.isBlock(n.body) ? n.body.statements[0] : undefined;
    if (first && saysReason(text, first.getFullStart())) return true;
  }
  return false;
}

const rows = [];
for (const file of sourceFiles("src")) {
  const rel = relative(process.cwd(), file);
  if (excluded.has(rel)) continue;
  const text = readFileSync(file, "utf8");
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const visit = (node) => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line + 1;
      const lines = end - start + 1;
      if (lines > limit) rows.push({ file: rel, name: nameOf(node), start, lines, kept: hasReason(node, text) });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}
rows.sort((a, b) => b.lines - a.lines);
const line = (r) => `${String(r.lines).padStart(4)}  ${r.file}:${r.start}  ${r.name}`;
const open = rows.filter((r) => !r.kept);
const kept = rows.filter((r) => r.kept);
for (const r of open) console.log(line(r));
console.log(`${open.length} function(s) over ${limit} lines`);
if (kept.length > 0) {
  console.log(`long on purpose (the reason in a "Long on purpose:" comment):`);
  for (const r of kept) console.log(line(r));
}
if (args.includes("--check") && open.length > 0) process.exitCode = 1;
