// GraphQL Code Generator: typed documents for examples/operations/*.graphql, checked against
// the repository's schema.graphql (the server's `make schema` output). Run from examples/:
//   npx graphql-codegen --config typescript/codegen.ts
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../schema.graphql",
  documents: ["operations/*.graphql"],
  generates: {
    "typescript/src/generated/graphql.ts": {
      plugins: ["typescript", "typescript-operations", "typed-document-node"],
      config: {
        scalars: { Date: "string", DateTime: "string", Time: "string", JSON: "unknown" },
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        avoidOptionals: { field: true, inputValue: false, object: true },
      },
    },
  },
};

export default config;
