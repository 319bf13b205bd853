// Stylesheets are bundled as minified text (see src/http/web-build.ts).
declare module '*.css' {
  const css: string;
  export default css;
}
