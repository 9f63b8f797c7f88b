//! Hostile components no Rust guest can be made to be: built here from a
//! hand-written core module (wasm-encoder) and hoist's own WIT
//! (wit-component), so they load as any hook does and misbehave in ways the
//! SDK never emits.

use std::path::Path;

use wasm_encoder::{
    CodeSection, ConstExpr, ExportKind, ExportSection, Function, FunctionSection, GlobalSection,
    GlobalType, HeapType, Instruction, MemorySection, MemoryType, Module, RefType, TableSection,
    TableType, TypeSection, ValType,
};

/// A `hook-plugin` component whose `run` calls `table.grow` by 65,536
/// elements at a time until the engine says no (then it returns Ok, so
/// only a trap from the host can fail it).
pub fn table_growing_hook() -> Vec<u8> {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/0.1");
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(&wit).expect("hoist's WIT parses");
    let version = resolve.packages[pkg]
        .name
        .version
        .clone()
        .expect("hoist's WIT package has a version");
    let run_export = format!("hoist:plugin/hook@{version}#run");
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]); // run(args) -> ret
    types.ty().function(
        [ValType::I32, ValType::I32, ValType::I32, ValType::I32],
        [ValType::I32],
    ); // cabi_realloc
    let mut funcs = FunctionSection::new();
    funcs.function(0).function(1);
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: 1,
        maximum: None,
        shared: false,
    });
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 4,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    let mut globals = GlobalSection::new();
    globals.global(
        GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        },
        &ConstExpr::i32_const(1024),
    );
    let mut exports = ExportSection::new();
    exports
        .export(&run_export, ExportKind::Func, 0)
        .export("cabi_realloc", ExportKind::Func, 1)
        .export("memory", ExportKind::Memory, 0);

    let mut code = CodeSection::new();
    // run: grow until refused; the result (at address 0, zeroed) is `ok`.
    let mut run = Function::new([]);
    for i in [
        Instruction::Block(wasm_encoder::BlockType::Empty),
        Instruction::Loop(wasm_encoder::BlockType::Empty),
        Instruction::RefNull(HeapType::FUNC),
        Instruction::I32Const(65_536),
        Instruction::TableGrow(0),
        Instruction::I32Const(-1),
        Instruction::I32Eq,
        Instruction::BrIf(1),
        Instruction::Br(0),
        Instruction::End,
        Instruction::End,
        Instruction::I32Const(0),
        Instruction::End,
    ] {
        run.instruction(&i);
    }
    code.function(&run);
    // cabi_realloc: a bump allocator (aligned), never frees.
    let mut realloc = Function::new([(1, ValType::I32)]);
    for i in [
        // ptr = (top + align - 1) & -align
        Instruction::GlobalGet(0),
        Instruction::LocalGet(2),
        Instruction::I32Add,
        Instruction::I32Const(1),
        Instruction::I32Sub,
        Instruction::I32Const(0),
        Instruction::LocalGet(2),
        Instruction::I32Sub,
        Instruction::I32And,
        Instruction::LocalSet(4),
        // top = ptr + new_size
        Instruction::LocalGet(4),
        Instruction::LocalGet(3),
        Instruction::I32Add,
        Instruction::GlobalSet(0),
        Instruction::LocalGet(4),
        Instruction::End,
    ] {
        realloc.instruction(&i);
    }
    code.function(&realloc);

    let mut module = Module::new();
    module
        .section(&types)
        .section(&funcs)
        .section(&tables)
        .section(&memories)
        .section(&globals)
        .section(&exports)
        .section(&code);
    let mut bytes = module.finish();

    let world = resolve
        .select_world(&[pkg], Some("hook-plugin"))
        .expect("the hook-plugin world");
    wit_component::embed_component_metadata(
        &mut bytes,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )
    .expect("metadata embeds");
    wit_component::ComponentEncoder::default()
        .module(&bytes)
        .expect("a valid core module")
        .validate(true)
        .encode()
        .expect("a component")
}
