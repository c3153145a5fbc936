//! memcpy, memmove, memset, memcmp, bcmp and strlen: the compiler emits calls to them, and without a C
//! library someone must define them. In assembly, so that the optimiser cannot turn their
//! loops back into calls to themselves.

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    // Small copies (most of a decoder's) with overlapping loads; rep movsb only for long
    // ones, where its start-up cost pays off.
    ".globl memcpy", "memcpy:", "mov rax, rdi",
    "cmp rdx, 16", "ja 10f",
    "cmp rdx, 8", "jb 11f",
    "mov r8, [rsi]", "mov r9, [rsi + rdx - 8]", "mov [rdi], r8", "mov [rdi + rdx - 8], r9", "ret",
    "11:", "cmp rdx, 4", "jb 12f",
    "mov r8d, [rsi]", "mov r9d, [rsi + rdx - 4]", "mov [rdi], r8d", "mov [rdi + rdx - 4], r9d", "ret",
    "12:", "test rdx, rdx", "jz 14f",
    "13:", "mov r8b, [rsi]", "mov [rdi], r8b", "inc rsi", "inc rdi", "dec rdx", "jnz 13b",
    "14:", "ret",
    "10:", "cmp rdx, 256", "ja 15f",
    "movups xmm0, [rsi + rdx - 16]", "movups [rax + rdx - 16], xmm0",
    "16:", "movups xmm0, [rsi]", "movups [rdi], xmm0", "add rsi, 16", "add rdi, 16", "sub rdx, 16",
    "cmp rdx, 16", "ja 16b", "ret",
    "15:", "mov rcx, rdx", "rep movsb", "ret",
    ".globl memset", "memset:", "mov r9, rdi", "mov eax, esi", "mov rcx, rdx", "rep stosb", "mov rax, r9", "ret",
    ".globl memmove", "memmove:", "mov rax, rdi", "mov rcx, rdx",
    "cmp rdi, rsi", "jbe 2f",
    "lea r8, [rsi + rdx]", "cmp rdi, r8", "jae 2f",
    "lea rsi, [rsi + rdx - 1]", "lea rdi, [rdi + rdx - 1]", "std", "rep movsb", "cld", "ret",
    "2:", "rep movsb", "ret",
    ".globl memcmp", "memcmp:", ".globl bcmp", "bcmp:", "xor eax, eax",
    "3:", "test rdx, rdx", "jz 4f",
    "movzx eax, byte ptr [rdi]", "movzx ecx, byte ptr [rsi]", "sub eax, ecx", "jnz 4f",
    "inc rdi", "inc rsi", "dec rdx", "jmp 3b",
    "4:", "ret",
    ".globl strlen", "strlen:", "mov rax, rdi",
    "5:", "cmp byte ptr [rax], 0", "je 6f", "inc rax", "jmp 5b",
    "6:", "sub rax, rdi", "ret",
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl memcpy", "memcpy:", "mov x3, x0", "cbz x2, 2f",
    "1:", "ldrb w4, [x1], #1", "strb w4, [x3], #1", "subs x2, x2, #1", "b.ne 1b",
    "2:", "ret",
    ".globl memset", "memset:", "mov x3, x0", "cbz x2, 2f",
    "1:", "strb w1, [x3], #1", "subs x2, x2, #1", "b.ne 1b",
    "2:", "ret",
    ".globl memmove", "memmove:", "cmp x0, x1", "b.ls memcpy", "add x4, x1, x2", "cmp x0, x4", "b.hs memcpy",
    "cbz x2, 2f",
    "1:", "subs x2, x2, #1", "ldrb w4, [x1, x2]", "strb w4, [x0, x2]", "b.ne 1b",
    "2:", "ret",
    ".globl memcmp", "memcmp:", ".globl bcmp", "bcmp:", "mov x3, x0", "mov w0, #0", "cbz x2, 2f",
    "1:", "ldrb w4, [x3], #1", "ldrb w5, [x1], #1", "subs w0, w4, w5", "b.ne 2f", "subs x2, x2, #1", "b.ne 1b",
    "2:", "ret",
    ".globl strlen", "strlen:", "mov x1, x0",
    "1:", "ldrb w2, [x1], #1", "cbnz w2, 1b",
    "sub x0, x1, x0", "sub x0, x0, #1", "ret",
);

/// Never called: the programs abort on panic, but the precompiled `core` still names the
/// unwinder's entry points.
#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    crate::sys::exit(121)
}

/// See [`_Unwind_Resume`].
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}
