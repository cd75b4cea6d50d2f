# ocirun's exec stub (x86_64, no libc). The container's init execs this from a sealed
# memfd, and it execs the user's program: so when the kernel resolves /proc/self/exe
# during that exec (a "#!/proc/self/exe" script), it finds this sealed copy, never the
# host's ocirun binary (CVE-2019-5736).
#   argv: MARKER ERROR_FD PREFIX PATH ARGV0 ARGV1 ...
# Sets FD_CLOEXEC on ERROR_FD, then execve(PATH, &ARGV0, envp). If that fails, writes
# PREFIX and the errno in decimal to ERROR_FD and exits 127. An empty ERROR_FD means
# stderr, left as it is (no fcntl: under a seccomp filter only execve runs here). Run
# any other way (as an interpreter, argv[0] != MARKER) it refuses with exit status 126.
        .globl  _start
        .text
_start:
        mov     (%rsp), %r15            # argc (syscall clobbers rcx and r11)
        cmp     $5, %r15
        jb      refuse
        mov     8(%rsp), %rdi           # argv[0] must be the marker
        lea     marker(%rip), %rsi
1:      mov     (%rdi), %al
        cmp     (%rsi), %al
        jne     refuse
        inc     %rdi
        inc     %rsi
        test    %al, %al
        jnz     1b
        mov     16(%rsp), %rsi          # argv[1]: the error fd in decimal, or empty
        mov     $2, %r12d
        cmpb    $0, (%rsi)
        je      7f
        xor     %r12d, %r12d
2:      movzbl  (%rsi), %eax
        test    %eax, %eax
        jz      3f
        sub     $'0', %eax
        imul    $10, %r12d, %r12d
        add     %eax, %r12d
        inc     %rsi
        jmp     2b
3:      mov     %r12d, %edi             # fcntl(fd, F_SETFD, FD_CLOEXEC)
        mov     $2, %esi
        mov     $1, %edx
        mov     $72, %eax
        syscall
        test    %rax, %rax
        jnz     die
7:      mov     32(%rsp), %rdi          # execve(argv[3], &argv[4], envp)
        lea     40(%rsp), %rsi
        lea     16(%rsp,%r15,8), %rdx   # envp = &argv[argc + 1]
        mov     $59, %eax
        syscall
        neg     %eax                    # errno
        mov     %eax, %ebx
        lea     -8(%rsp), %r13          # digits, backwards, below the stack pointer
        mov     %r13, %r14
        mov     $10, %ecx
4:      xor     %edx, %edx
        mov     %ebx, %eax
        div     %ecx
        add     $'0', %dl
        dec     %r14
        mov     %dl, (%r14)
        mov     %eax, %ebx
        test    %eax, %eax
        jnz     4b
        mov     24(%rsp), %rsi          # write(fd, PREFIX, strlen(PREFIX))
        mov     %rsi, %rdx
5:      cmpb    $0, (%rdx)
        je      6f
        inc     %rdx
        jmp     5b
6:      sub     %rsi, %rdx
        mov     %r12d, %edi
        mov     $1, %eax
        syscall
        mov     %r12d, %edi             # write(fd, digits, n)
        mov     %r14, %rsi
        mov     %r13, %rdx
        sub     %r14, %rdx
        mov     $1, %eax
        syscall
die:    mov     $127, %edi
        jmp     exit
refuse: mov     $2, %edi                # write(2, refusal, len)
        lea     refusal(%rip), %rsi
        mov     $refusal_end - refusal, %edx
        mov     $1, %eax
        syscall
        mov     $126, %edi
exit:   mov     $231, %eax              # exit_group
        syscall
marker: .asciz  "ocirun-exec-stub"
refusal:
        .ascii  "ocirun: refusing to run the runtime's exec stub as an interpreter\n"
refusal_end:
