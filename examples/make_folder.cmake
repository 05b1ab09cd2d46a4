# Makes a small ImageFolder tree for the degenerate-data tests from the exported Fashion-MNIST test
# images: cmake -DSRC=<fashion-mnist/test> -DDST=<dir> -DSPEC="Class:n|Class:n" [-DPART=train] -P make_folder.cmake
# Each Class:n copies the first n images of SRC/Class into DST[/PART]/Class.
file(REMOVE_RECURSE ${DST})
string(REPLACE "|" ";" spec "${SPEC}")
foreach(item IN LISTS spec)
  string(REPLACE ":" ";" pair "${item}")
  list(GET pair 0 cls)
  list(GET pair 1 n)
  file(GLOB files ${SRC}/${cls}/*.png)
  list(SORT files)
  list(SUBLIST files 0 ${n} files)
  set(to ${DST}/${cls})
  if(PART)
    set(to ${DST}/${PART}/${cls})
  endif()
  file(MAKE_DIRECTORY ${to})
  file(COPY ${files} DESTINATION ${to})
endforeach()
